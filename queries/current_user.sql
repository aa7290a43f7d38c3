-- The account the server matched us to (user@host), which may differ from the user we asked for.
SELECT CURRENT_USER()
