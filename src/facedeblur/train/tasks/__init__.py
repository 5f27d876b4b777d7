"""Training tasks, one file per model recipe; :data:`facedeblur.train.recipes.TASKS` maps names to them."""
