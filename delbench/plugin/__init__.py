"""The plugin system: hook specifications, the pluggy manager, registries, the plugin kit and scaffold."""
