"""Attack-defence drills (攻防演练): the cyber range they run on, and (later) scenarios and scorecards."""
