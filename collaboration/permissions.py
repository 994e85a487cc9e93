"""The collaboration permissions a sales rep needs (managers and admins get all of them through core.roles).

Reps file and revise change requests, comment, read their notifications and write their territory plans;
deciding requests (decide_changerequest), approving plans (approve_salesplan) and sharing scenarios
(add/delete_sharelink) stay with managers. Row-level limits are in collaboration.selectors.
"""

REP_PERMISSIONS = {
    "view_changerequest", "add_changerequest", "change_changerequest",
    "view_comment", "add_comment", "change_comment",
    "view_notification", "change_notification",
    "view_salesplan", "add_salesplan", "change_salesplan",
    "view_salesplangoal", "add_salesplangoal", "change_salesplangoal", "delete_salesplangoal",
    "view_salesplanaction", "add_salesplanaction", "change_salesplanaction", "delete_salesplanaction",
}
