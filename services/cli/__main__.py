"""``python -m services.cli`` is ``qg`` (what ``qg up`` runs its children with)."""

from services.cli import app

app()
