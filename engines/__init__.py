# engines
