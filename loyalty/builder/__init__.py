"""The program builder of the backoffice: forms in place of JSON for a program's tiers,
earning rules and campaigns, and the live example of what a customer earns.

The forms parse and present; each asks the service that will save the change to check it
first (``tiers_check``, ``rule_parameters``, ``campaign_check``), so a refusal is shown next
to its field in plain words, and the service still checks again, role and audit included,
when it saves.
"""
