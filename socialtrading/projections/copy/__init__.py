"""Copy trading's read model: copies, their activity, leaders' copy settings."""
