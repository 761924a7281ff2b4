# The devnet's pytest plugin. Loaded by its entry point when the package is installed; this line
# loads it when PYTEST_DISABLE_PLUGIN_AUTOLOAD is set (and is a no-op otherwise).
pytest_plugins = ["toolkit.testing.plugin"]
