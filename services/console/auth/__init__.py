"""Login (OpenID Connect authorization code flow with PKCE), sessions, CSRF, logout."""
