"""The deadline registry: the file format (file.py), reconciliation of notices with measures
(reconcile.py), applying accepted findings (db/registry.py), reminders and the calendar."""
