"""Planning: population projection from the registry, scenarios, needs (grain, school places, elderly care), settlement structure and the five-year-plan sheet."""
