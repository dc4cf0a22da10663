"""RQ workers and the scheduler: order placement, fills, TP, risk, queue promotion."""
