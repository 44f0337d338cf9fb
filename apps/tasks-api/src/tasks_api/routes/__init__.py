"""HTTP routes: tasks, the caller's identity and admin statistics, health probes."""
