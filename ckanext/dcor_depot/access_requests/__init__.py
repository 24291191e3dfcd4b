"""Access requests: a user asks a circle's admins for the files on their
download list that they may no longer read; an admin grants (the user
joins the circle as a member) or declines (rules, storage in PostgreSQL,
the e-mail to the admins, the circle page's part and its forms)."""
