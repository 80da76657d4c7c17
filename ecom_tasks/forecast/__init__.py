"""Demand forecasting, inventory planning and price elasticity: the nightly ``forecast`` stage."""
