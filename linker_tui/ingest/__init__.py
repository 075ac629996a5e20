"""The formats that arrive from outside: the PMS export files, CSV reading and FHIR
appointment requests. Parsing and validation only; the sync stores what they yield."""
