"""Staff decisions on requests: the checks, the one decision skeleton and audit writer
(``trail``), and the audit trail's verification."""
