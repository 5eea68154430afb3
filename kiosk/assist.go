package kiosk

import "context"

// StaffCaller is implemented by servers that can call the station's staff
// to the kiosk (呼叫工作人员; ServerClient does: the server audits the call
// and shows it to the station's staff).
type StaffCaller interface {
	CallStaff(ctx context.Context, reason string) error
}

// Reasons for calling staff (apiv1.AssistResident, apiv1.AssistPrinter).
const (
	CallResident = "resident"
	CallPrinter  = "printer"
)

// ActCallStaff is the 呼叫工作人员 touch (handled by the daemon).
const ActCallStaff = "callstaff"

// Call states shown on screen.
const (
	CallCalling = "calling"
	CallCalled  = "called"
	CallFailed  = "failed"
)

// AssistView is the state of the call for staff during this session.
type AssistView struct {
	State string `json:"state"`
}

// callStaff asks the server to call the station's staff; the outcome is
// shown until the session ends. Without a StaffCaller it does nothing.
func (d *Daemon) callStaff(ctx context.Context, reason string) {
	sc, ok := d.server.(StaffCaller)
	if !ok || d.assist == CallCalling {
		return
	}
	d.assist = CallCalling
	gen := d.m.State().Gen
	d.effects.Add(1)
	go func() {
		defer d.effects.Done()
		cctx, cancel := context.WithTimeout(ctx, d.serverTimeout())
		defer cancel()
		err := d.timed("assist", func() error { return sc.CallStaff(cctx, reason) })
		state := CallCalled
		if err != nil {
			state = CallFailed
		}
		d.log.Info("call for staff", "reason", reason, "state", state, "err", errClass(err))
		select {
		case d.loop <- func() {
			if d.m.State().Gen == gen {
				d.assist = state
			}
		}:
		case <-ctx.Done():
		}
	}()
}
