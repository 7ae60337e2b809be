"""Copy trading over GraphQL: copies, their activity, leaders' settings, the mutations."""
