"""marshmallow schemas: they validate requests and, the same objects, feed the OpenAPI document."""
