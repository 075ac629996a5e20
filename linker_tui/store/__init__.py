"""The database: engine, tables (SQLModel), migrations, schema checks, read queries for
the screens and the job leases."""
