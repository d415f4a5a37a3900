"""Long work off the page: the job queue, its worker, and the device slots jobs take turns on.

Training runs and architecture measurements are both jobs.

- ``queue``: Huey on SQLite in the data directory, or on Redis for workers on several machines
- ``fair_queue``: which waiting run a free device takes next (round-robin by owner, the instructor's moves
  first), positions and estimated starts, the cap on one user's waiting runs
- ``attempts``: a worker claiming one attempt of a run, once, and marking it running
- ``worker``: ``python -m cvlab worker``, and the app's check that one is alive
- ``device_slots``: one job at a time per device (configurable), shared by a worker's threads
- ``status``: ``RunStatus``, where a run or a measurement stands, and its named groups (active, ended...)
"""
