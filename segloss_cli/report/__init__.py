"""Renderers: RunResult -> text. They format; they never compute."""
