//! From idea to project (`shared::path`): the facilitator's decisions on a canvas note and
//! turning a kept note into a project of a portfolio board. Both are server edits journaled
//! under the facilitator's identity (the request's `by`, as a websocket connection names
//! itself), so the record says who decided and when, and each is decided inside the room
//! against the note as the document holds it.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::path::{Decision, ProjectLink, REASON_CHARS_MAX, Status};
use shared::portfolio::{Project, STAGES, Stake};
use shared::{BoardKind, OrgKind, Roots};

use crate::api::{ApiError, decided_edit, facilitator_only, json_body, role_of};
use crate::app::AppState;
use crate::store::{Actor, BoardId};

/// Characters of a note's text a project's title keeps at most.
const PROJECT_TITLE_CHARS_MAX: usize = 120;

/// Who makes the request, as a websocket connection names itself (`pid`, `name`, `org`,
/// `orgKind`): the record credits the change to them. Without it, the change is the server's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct By {
    pid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    org: String,
    #[serde(default, rename = "orgKind")]
    org_kind: String,
}

impl By {
    fn actor(by: Option<By>) -> Result<Actor, ApiError> {
        let Some(by) = by else {
            return Ok(Actor::system());
        };
        let reserved = by.pid == shared::trace::SERVER_PID
            || shared::proxy::Represented::is_proxy_pid(&by.pid);
        if by.pid.trim().is_empty() || by.pid.chars().count() > 64 || reserved {
            return Err(ApiError::bad_request(
                "by.pid must be a participant id of 1 to 64 characters",
            ));
        }
        if by.name.chars().count() > 80 || by.org.chars().count() > 120 {
            return Err(ApiError::bad_request(
                "by.name is limited to 80 characters and by.org to 120",
            ));
        }
        let org_kind = match by.org_kind.as_str() {
            "" => None,
            kind => Some(
                kind.parse::<OrgKind>()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            ),
        };
        Ok(Actor {
            pid: by.pid,
            name: by.name.trim().to_owned(),
            org: by.org.trim().to_owned(),
            org_kind,
        })
    }
}

/// The name the document may hold for `pid`: their pseudonym on a board that shows them.
fn shown_name(roots: &Roots, txn: &yrs::TransactionMut, pid: &str, name: String) -> String {
    if shared::pseudonym::is_on(roots, txn) {
        roots
            .participants(txn)
            .remove(pid)
            .map(|p| p.name)
            .unwrap_or_default()
    } else {
        name
    }
}

fn no_note(note: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("this board has no note {note:?}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    /// `kept`, `setAside`, or `open` (the decision withdrawn).
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    by: Option<By>,
}

/// `POST /api/boards/{id}/notes/{note}/decision` (facilitator): `{"status": "kept" |
/// "setAside" | "open", "reason", "by"}`. Writes the note's `decision` (server time) and
/// answers it (`null` once withdrawn).
pub async fn decide(
    State(app): State<AppState>,
    Path((id, note)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let record = facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may keep or set aside an idea",
    )
    .await?;
    let request = json_body::<DecisionRequest>(&body)?;
    let status = match request.status.as_str() {
        "open" => None,
        other => Some(Status::parse(other).ok_or_else(|| {
            ApiError::bad_request(format!(
                "status must be kept, setAside or open, not {other:?}"
            ))
        })?),
    };
    let reason = request.reason.trim().to_owned();
    if reason.chars().count() > REASON_CHARS_MAX {
        return Err(ApiError::bad_request(format!(
            "reason is longer than {REASON_CHARS_MAX} characters"
        )));
    }
    let actor = By::actor(request.by)?;
    let decision = status.map(|status| Decision {
        status,
        reason,
        at_ms: app.config.clock.now_ms(),
        by_pid: actor.pid.clone(),
        by_name: actor.name.clone(),
    });
    let decision = decided_edit(&app, &record.id, actor, move |roots, txn| {
        let written = decision.clone().map(|mut d| {
            d.by_name = shown_name(roots, txn, &d.by_pid, d.by_name);
            d
        });
        if roots.set_decision(txn, &note, written.as_ref()) {
            Ok(written)
        } else {
            Err(no_note(&note))
        }
    })
    .await?;
    tracing::info!(board = %record.id, status = ?decision.as_ref().map(|d| d.status), "decision");
    Ok(Json(json!({ "decision": decision.map(|d| json!({
        "status": d.status.as_str(),
        "reason": d.reason,
        "atMs": d.at_ms,
        "byPid": d.by_pid,
        "byName": d.by_name,
    })) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectRequest {
    /// The portfolio board's id.
    portfolio: String,
    /// A token of the portfolio board that may edit it.
    token: String,
    #[serde(default)]
    by: Option<By>,
}

/// `POST /api/boards/{id}/notes/{note}/project` (facilitator of the canvas, with an editing
/// token of the portfolio): turns a kept note into a project of the portfolio board, at its
/// first stage, whose `stakes` point back to the note; the note's `project` names it.
/// 201 `{board, project, title}`; 409 when the note is not kept or already became a project.
pub async fn to_project(
    State(app): State<AppState>,
    Path((id, note)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let canvas = facilitator_only(
        &app,
        &id,
        &query,
        &headers,
        "only the facilitator link may turn an idea into a project",
    )
    .await?;
    let request = json_body::<ProjectRequest>(&body)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "portfolio board not found");
    let portfolio_id = BoardId::parse(&request.portfolio).ok_or_else(not_found)?;
    let portfolio = app.board(&portfolio_id).await?.ok_or_else(not_found)?;
    if portfolio.kind != BoardKind::Portfolio {
        return Err(ApiError::bad_request(format!(
            "board {} is a {}, not a portfolio",
            portfolio.id,
            portfolio.kind.as_str()
        )));
    }
    match role_of(&app, &portfolio, &request.token).await? {
        Some(role) if role.can_edit() => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this portfolio link may only read it",
            ));
        }
        None => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong or revoked portfolio token",
            ));
        }
    }
    let actor = By::actor(request.by)?;
    let project_id = format!("p-{}", uuid::Uuid::new_v4().simple());
    let at_ms = app.config.clock.now_ms();
    // The note first: checked and marked in one edit of its room, so that two requests at
    // once make one project.
    let link = {
        let (board, project, by_name, by_pid) = (
            portfolio.id.to_string(),
            project_id.clone(),
            actor.name.clone(),
            actor.pid.clone(),
        );
        let note = note.clone();
        decided_edit(&app, &canvas.id, actor.clone(), move |roots, txn| {
            let found = roots.notes(txn).into_iter().find(|n| n.id == note);
            let found = found.ok_or_else(|| no_note(&note))?;
            if found.decision.as_ref().map(|d| d.status) != Some(Status::Kept) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "only a kept idea becomes a project: keep it first",
                ));
            }
            if let Some(done) = &found.project {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("this idea already became the project {:?}", done.title),
                ));
            }
            let link = ProjectLink {
                board: board.clone(),
                project: project.clone(),
                title: project_title(&found.text),
                at_ms,
                by_name: shown_name(roots, txn, &by_pid, by_name.clone()),
            };
            roots.set_project_link(txn, &note, &link);
            Ok((link, found.text, found.on_behalf_of))
        })
        .await?
    };
    let (link, text, on_behalf_of) = link;
    let project = Project {
        title: link.title.clone(),
        description: text,
        stage: STAGES[0].to_owned(),
        lead_mode: shared::portfolio::LEAD_MODES[0].to_owned(),
        author: actor.pid.clone(),
        stakes: vec![Stake {
            board: canvas.id.to_string(),
            note: note.clone(),
            label: link.title.clone(),
        }],
        on_behalf_of,
        ..Project::default()
    };
    let created = decided_edit(&app, &portfolio.id, actor.clone(), {
        let id = project_id.clone();
        move |roots, txn| {
            roots.add_project(txn, &id, &project);
            Ok(())
        }
    })
    .await;
    if let Err(e) = created {
        // Leave the note as it was: it did not become a project.
        let note = note.clone();
        let _ = decided_edit(&app, &canvas.id, Actor::system(), move |roots, txn| {
            if let Some(yrs::Out::YMap(map)) = yrs::Map::get(&roots.notes, txn, &note) {
                yrs::Map::remove(&map, txn, shared::path::PROJECT);
            }
            Ok(())
        })
        .await;
        return Err(e);
    }
    tracing::info!(board = %canvas.id, portfolio = %portfolio.id, "idea became a project");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "board": portfolio.id.to_string(),
            "project": project_id,
            "title": link.title,
        })),
    ))
}

/// A project's title from a note's text: its first line, cut at a word.
fn project_title(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= PROJECT_TITLE_CHARS_MAX {
        return line.to_owned();
    }
    let cut: String = line.chars().take(PROJECT_TITLE_CHARS_MAX).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::project_title;

    #[test]
    fn a_projects_title_is_the_notes_first_line_cut_at_a_word() {
        assert_eq!(project_title("\n  Navette  \nle samedi"), "Navette");
        let long = "mot ".repeat(60);
        let title = project_title(&long);
        assert!(
            title.ends_with("mot…") && title.chars().count() <= 121,
            "{title}"
        );
    }
}
