"""The Fortnox REST client: paging, pacing under the rate limit, retries, typed errors and records."""
