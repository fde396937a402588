"""Exchange between deployments: signed notifications (JWS over RFC 8785 JSON) about migrants, outbox and inbox, HTTP delivery and offline bundles."""
