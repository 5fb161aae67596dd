// Start on the desktop, not in the Activities overview.
//
// GNOME Shell 40 and later open the overview when a session starts. On this streaming PC
// OBS Studio opens by itself, and the streamer should find its window in front, ready to
// go live. While the shell is starting up, this turns the session's overview off, so the
// start-up animation leads to the desktop; once start-up is complete the overview is
// back for the Activities button, the Super key and gestures.
//
// Installed from files/ and switched on for every user in /etc/dconf/db/local.d/.
// Delete both to get GNOME's usual start in the overview.
const Main = imports.ui.main;

class StartOnDesktop {
    enable() {
        if (!Main.layoutManager._startingUp)
            return;
        this._overviewBefore = Main.sessionMode.hasOverview;
        Main.sessionMode.hasOverview = false;
        this._startupComplete = Main.layoutManager.connect('startup-complete',
            () => this._giveOverviewBack());
    }

    disable() {
        this._giveOverviewBack();
    }

    _giveOverviewBack() {
        if (this._startupComplete) {
            Main.layoutManager.disconnect(this._startupComplete);
            this._startupComplete = 0;
        }
        if (this._overviewBefore !== undefined) {
            Main.sessionMode.hasOverview = this._overviewBefore;
            this._overviewBefore = undefined;
        }
    }
}

function init() {
    return new StartOnDesktop();
}
