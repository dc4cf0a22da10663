"""Use cases. Routes and jobs stay thin and call these."""
