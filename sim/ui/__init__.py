"""Interactive web apps: the live model explorer and the results dashboard (Solara pages).

- :mod:`~sim.ui.inputs`: values typed or slid in a page, checked against the parameter
  declarations (the same :class:`~sim.params.Param` that checks scenario files);
- :mod:`~sim.ui.session`: one explorer session — a model built from the user's choices, stepped
  on demand, with the read-outs the page shows (no UI code, so it is testable without a browser);
- :mod:`~sim.ui.network_sample`: a few hundred staff of a large network to draw;
- :mod:`~sim.ui.results`: a finished experiment or sensitivity directory, read for the dashboard;
- :mod:`~sim.ui.figures`: the pages' figures as PNG bytes (shown and downloadable);
- :mod:`~sim.ui.explorer`, :mod:`~sim.ui.dashboard`: the Solara pages;
- :mod:`~sim.ui.serve`: starting a page on localhost with every asset served locally (offline);
- :mod:`~sim.ui.security`: what the apps refuse (other sites' pages, requests without the
  launch's token, typed paths outside the root folder).

Only the page modules and :mod:`~sim.ui.serve` need Solara (``pip install implsim[ui]``).
"""
