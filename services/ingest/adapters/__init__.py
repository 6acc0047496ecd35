"""One module per platform: pure signature checks and parsers into canonical ``qg.chat.v1`` payloads."""
