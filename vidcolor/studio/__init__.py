"""``vidcolor studio FILM``: a local web page to give each shot of a film its colours (hints and a
reference), see the keyframe colorized at once, and save them beside the film in the batch
convention. :mod:`~vidcolor.studio.session` holds the state; :mod:`~vidcolor.studio.server` the
HTTP side (Flask, an optional dependency: ``pip install 'vidcolor[studio]'``)."""
