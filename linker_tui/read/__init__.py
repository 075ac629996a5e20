"""What the screens and the CLI read: the request list's pages, a request's detail and the
view rows (requests, appointments, candidates) they are drawn from. Read-only."""
