"""Software releases at central (issue 17, point 3): getting a signed release to the booths.

- `store`: `kiosk central release add` verifies a bundle with the release key, keeps it in --release-dir and
  records it (manifest bytes, signature, each file's place in the bundle);
- `rollouts`: an admin offers a release to a region, a list of booths or a share of a region, in waves; a
  wave goes on when the previous one has committed, and the rollout halts by itself when too many roll back;
- `reports`: what each booth says of its updates (the heartbeat's `update` block);
- `chunks`: a booth fetches the files it lacks in chunks over MQTT, only of the release offered to it;
- `views`: what the Releases page shows; `command`: the shell's `kiosk central release`.
"""
