# Private to this collection: the GCP adapter. It translates between Google's REST APIs (through
# google-auth's AuthorizedSession) and the core's model; it does not decide.
