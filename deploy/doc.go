// Package deploy holds credflow's deployment files, a systemd unit
// (systemd/) and Kubernetes manifests (kubernetes/), which docs/deploy.md
// explains. It has no code: its tests check that the files stay valid and
// keep their essentials as credflow changes.
package deploy
