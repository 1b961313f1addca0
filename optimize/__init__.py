"""The optimizer: search a scenario's prices, budgets and offer sequences (sim optimize)."""
