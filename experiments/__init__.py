"""Runs, the CLI, sweeps, the leaderboard and analysis."""
