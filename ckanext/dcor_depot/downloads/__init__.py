"""The download side: providers that answer a resource's download."""
