"""The dashboard's components: small Panel Viewers over the session controller."""
