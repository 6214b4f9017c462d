"""SEC 15c3-5 pre-trade controls: versioned rules, two replay engines, the backtest."""
