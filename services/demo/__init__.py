"""Sample data for ``qg demo`` and the end-to-end suite: a seeded Chinese company and its group chat.

- :mod:`services.demo.company`: 天高集团, its departments, people, platform accounts and groups;
- :mod:`services.demo.payloads`: that company as SCIM Users and group-registry requests;
- :mod:`services.demo.activity`: a day or a month of group activity with every injected violation
  labelled by the rule id it must trigger (the generator's own expectation, not the rules engine's);
- :mod:`services.demo.platforms`: a share of the events as the platforms' own webhook bodies;
- :mod:`services.demo.player` and :mod:`services.demo.cli`: ``qg demo`` on top of ``qg up``.

Everything is a pure function of the seed: the same seed gives byte-identical output.
"""
