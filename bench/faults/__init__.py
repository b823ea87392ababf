"""docqa's fault campaign: kill -9 at random moments, outages, a full disk, plain-SQL writers, a soak.

Every scenario drives docqa only through its CLI (`docqa ...`) and its HTTP
service (`docqa serve`), and judges the outcome with `checker.py`, which reads
the database with its driver and the snapshot with FAISS, importing no docqa
code. See docs/reliability.md for the figures and the commands.
"""
