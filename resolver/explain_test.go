package resolver

import "testing"

func TestExplanationsBlameThePackageThatNeedsTheMissingOne(t *testing.T) {
	runSolveCases(t, []solveCase{
		{
			name: "a missing package three steps down is blamed on the one that needs it",
			universe: `
				app 1.0.0: libmid
				libmid 1.0.0: libdeep
				libdeep 1.0.0: libgone >=1`,
			request: "app",
			wantErr: `
Because app 1.0.0 depends on libmid which depends on libdeep, app 1.0.0 requires libdeep 1.0.0.
So, because libdeep 1.0.0 depends on libgone >=1, which matches no available package and you asked for app, your request cannot be satisfied.`,
		},
	})
}
