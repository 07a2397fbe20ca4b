from watcher.cli import app

app(prog_name="watcher")
