"""Server API variants: what one server API's routes, bodies and status words are."""
