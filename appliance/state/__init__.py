"""What the booth keeps on its own disk: the SQLite state database, sealing of personal data at rest,
event ids, the admin PIN's guard and the note of what was filed here."""
