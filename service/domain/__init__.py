"""Business rules as plain async functions that handlers, jobs and tests all call."""
