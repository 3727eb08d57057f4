//! The web app in headless Chromium (Debian's), driven by playwright-core (`tests/js/browser.mjs`).
//! Screenshots land in `artifacts/`.

use nouage_tests::{
    Board, TempDir, TestServer, browser_ready, browser_scenario, export_bytes, keep_artifact,
    odt_parts, pdf_text, xml_unescape,
};
use serde_json::{Value, json};

async fn run(scenario: &str) -> Option<Value> {
    if !browser_ready() {
        return None;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let result = browser_scenario(scenario, &server.base).await;
    server.stop().await;
    Some(result.unwrap())
}

#[tokio::test]
async fn a_node_typed_in_one_page_appears_in_another_with_its_author_present() {
    let Some(result) = run("two-pages").await else {
        return;
    };
    // How long it took is the benchmark's business (web/tests, `cargo xtask bench`), not a
    // pass or fail here: the page waited for the node with a deadline.
    let remote_ms = result["remoteMs"].as_u64().unwrap();
    eprintln!("the node appeared on the other page after {remote_ms} ms");
    let presence = result["presence"].as_str().unwrap();
    assert!(
        presence.contains("Anne Bérubé") && presence.contains("Baie-Saint-Paul"),
        "{presence}"
    );
    assert_eq!(
        result["outline"], "Bruno Tremblay",
        "a peer's selection is outlined with their name"
    );
    assert_eq!(
        result["annesLabels"],
        json!(["Mobilités douces", "Navette estivale", "A1"])
    );
}

#[tokio::test]
async fn renaming_the_central_topic_moves_the_ideas_on_the_other_page_without_redrawing_them() {
    let Some(result) = run("rename-central").await else {
        return;
    };
    assert_eq!(result["nodes"], 5, "{result}");
    // The central topic grew: ideas on the left moved, and the page kept every element.
    assert!(result["moved"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["sameElements"], 5, "{result}");
}

#[tokio::test]
async fn a_stock_yjs_client_and_the_page_see_each_others_nodes() {
    let Some(result) = run("yjs-interop").await else {
        return;
    };
    assert_eq!(
        result["pageLabels"],
        json!(["Interop", "Écrit par Node.js", "Tapé dans la page"])
    );
    assert_eq!(result["nodeSawParent"], "root");
    assert!(
        !result["nodeSawAuthor"].as_str().unwrap().is_empty(),
        "the page records its author"
    );
}

#[tokio::test]
async fn edits_made_offline_merge_when_the_connection_returns() {
    let Some(result) = run("offline").await else {
        return;
    };
    let all = json!(["Hors ligne", "Idée en ligne", "Idée hors ligne"]);
    assert_eq!(
        result["bWhileOffline"],
        json!(["Hors ligne", "Idée hors ligne"]),
        "offline, only its own idea"
    );
    assert_eq!(result["a"], all);
    assert_eq!(result["b"], all);
}

#[tokio::test]
async fn a_viewer_page_cannot_change_the_map() {
    let Some(result) = run("viewer").await else {
        return;
    };
    let expected = json!(["Lecture", "Visible par tous"]);
    assert_eq!(result["viewerLabels"], expected);
    assert_eq!(result["editorLabels"], expected);
    assert_eq!(
        result["editButtons"],
        json!(["+", "−", "Ajuster à l'écran"]),
        "no editing button for a viewer"
    );
    assert_eq!(result["readOnlyBadge"], "Lecture seule");
}

#[tokio::test]
async fn undo_takes_back_only_ones_own_edits() {
    let Some(result) = run("undo").await else {
        return;
    };
    let only_bob = json!(["Annuler", "Idée de Bob"]);
    assert_eq!(result["afterUndo"]["alice"], only_bob);
    assert_eq!(result["afterUndo"]["bob"], only_bob);
    assert_eq!(
        result["afterRedo"],
        json!(["Annuler", "Idée de Bob", "Idée d’Alice"])
    );
}

#[tokio::test]
async fn the_interface_is_french_by_default_and_switches_to_english() {
    let Some(result) = run("language").await else {
        return;
    };
    assert_eq!(result["before"]["lang"], "fr");
    assert!(
        result["before"]["toolbar"]
            .as_str()
            .unwrap()
            .contains("Ajouter un enfant")
    );
    assert_eq!(result["after"]["lang"], "en");
    assert!(
        result["after"]["toolbar"]
            .as_str()
            .unwrap()
            .contains("Add child (Tab)")
    );
    assert_eq!(result["after"]["status"], "Connected");
}

#[tokio::test]
async fn dragging_an_idea_onto_another_makes_it_its_child_for_everybody() {
    let Some(result) = run("drag").await else {
        return;
    };
    assert_eq!(
        result["levelHere"], "3",
        "the dragged idea is a grandchild of the central topic"
    );
    assert_eq!(result["levelThere"], "3");
}

#[tokio::test]
async fn a_diagnosis_canvas_runs_a_working_session() {
    let Some(result) = run("diagnosis").await else {
        return;
    };
    let sections = result["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 7, "the seven sections of the template");
    assert_eq!(sections[0], "Territoire");
    assert_eq!(
        result["totals"],
        json!({"anne": "3", "bruno": "3", "node": 3}),
        "vote totals agree everywhere"
    );
    assert_eq!(result["notesOnAnne"], 30);
    assert_eq!(
        result["viewerCanEdit"], 0,
        "a viewer has no editing affordance"
    );
}

#[tokio::test]
async fn a_project_portfolio_runs_a_working_session() {
    let Some(result) = run("portfolio").await else {
        return;
    };
    assert_eq!(
        result["nodeSawStage"], "coproduce",
        "a stage changed by keyboard reaches a stock client"
    );
    assert_eq!(result["cards"], 20);
    assert_eq!(
        result["typedTitle"], "Navette estivale des deux rives",
        "every character typed in the panel's title is kept"
    );
    assert_eq!(
        result["titleKeptFocus"], true,
        "the title field keeps the focus while its project changes"
    );
    assert_eq!(
        result["keptCards"], 20,
        "a title typed elsewhere updates the cards in place, none is drawn again"
    );
    assert_eq!(
        result["focusAfterDelete"], "seed-12",
        "a project removed above the focused card leaves the focus on the same project"
    );
    let filtered = result["filtered"].as_u64().unwrap();
    assert!(
        filtered >= 3,
        "filtering by stage keeps the co-fund projects ({filtered})"
    );
    let titles: Vec<String> = serde_json::from_value(result["sortedTitles"].clone()).unwrap();
    let mut sorted = titles.clone();
    sorted.sort_by_key(|t| t.to_lowercase());
    assert_eq!(titles, sorted, "the table sorts by title");
    assert_eq!(result["viewerAdd"], 0);
    assert_eq!(result["viewerReadonly"], true);
}

#[tokio::test]
async fn the_contributions_panel_credits_each_participant() {
    let Some(result) = run("contributions").await else {
        return;
    };
    // Typing the text of one's own new idea is writing, not editing: edited stays 0.
    assert_eq!(
        result["rows"],
        json!([["Anne Bérubé", "2", "0"], ["Bruno Tremblay", "1", "0"]])
    );
    let parity = result["parity"].as_array().unwrap();
    assert_eq!(parity.len(), 2, "{parity:?}");
    assert!(
        parity
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("Commune (1)")),
        "{parity:?}"
    );
}

#[tokio::test]
async fn the_facilitator_renames_exports_from_the_menu_and_a_map_imports_from_the_home_page() {
    let Some(result) = run("export-import").await else {
        return;
    };
    assert_eq!(result["renamedOnOther"], "Carte des mobilités du Lodévois");
    assert_eq!(result["brunoCanRename"], false);
    assert_eq!(
        result["formats"],
        json!([
            "pdf",
            "png",
            "svg",
            "md",
            "opml",
            "mm",
            "odt",
            "record-pdf",
            "record-md",
            "json",
            "yjs"
        ])
    );
    assert_eq!(result["pdfHead"], "%PDF-");
    assert!(result["pdfName"].as_str().unwrap().ends_with(".pdf"));
    assert_eq!(
        result["md"], "# Carte du territoire\n\n- Gare de Lodève\n",
        "the central topic keeps its text; the rename changed the board's title"
    );
    assert_eq!(
        result["importedLabels"],
        json!(["Carte du territoire", "Gare de Lodève"])
    );
    assert_eq!(result["importedTitle"], "Carte du territoire");
}

#[tokio::test]
async fn what_the_facilitator_locks_editors_can_no_longer_change() {
    let Some(result) = run("locks").await else {
        return;
    };
    let note = &result["lockedNote"];
    assert_eq!(note["deleteButton"], false, "{note}");
    assert_eq!(note["draggable"], "false");
    assert_eq!(note["lockButton"], false, "only the facilitator locks");
    assert_eq!(note["editorOpened"], false);
    assert_eq!(note["stillThere"], "Constat validé en séance");
    let node = &result["lockedNode"];
    assert_eq!(node["labels"], json!(["Carte", "Idée validée"]), "{node}");
    assert!(
        node["ariaLabel"].as_str().unwrap().contains("verrouillé"),
        "{node}"
    );
    assert_eq!(result["claireLabels"], json!(["Carte", "Idée validée"]));
}

#[tokio::test]
async fn a_note_deleted_by_mistake_is_restored_from_the_contributions_panel() {
    let Some(result) = run("restore").await else {
        return;
    };
    let listed = result["listed"].as_str().unwrap();
    assert!(
        listed.contains("Peu de bus le dimanche") && listed.contains("Bruno"),
        "{listed}"
    );
    assert_eq!(
        result["author"], "Anne (Lodève)",
        "the restored note keeps its author"
    );
}

#[tokio::test]
async fn the_history_panel_lists_changes_and_shows_the_board_as_it_was() {
    let Some(result) = run("history").await else {
        return;
    };
    // Anne's changes in a row are one line of the timeline (a run), counting her two ideas;
    // the slider still stops after every change.
    let lines = result["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{result}");
    let line = lines[0].as_str().unwrap();
    assert!(
        line.contains("Anne (Lodève)") && line.contains("+2"),
        "{line}"
    );
    assert!(result["stops"].as_u64().unwrap() >= 3, "{result}");
    assert_eq!(
        result["firstHasSecond"], false,
        "the first change shows a board without the later idea"
    );
    assert_eq!(result["lastHasBoth"], true, "{result}");
    assert_eq!(result["middleIsSvg"], true);
    assert!(
        result["label"].as_str().unwrap().contains("Anne"),
        "{result}"
    );
}

#[tokio::test]
async fn a_long_history_is_read_a_page_at_a_time() {
    let Some(result) = run("history-pages").await else {
        return;
    };
    // 1,200 ideas and the writers' and Anne's cards: the latest 1,000 changes, then the
    // earlier ones (the last page), then the latest again.
    assert_eq!(result["latest"], 1000, "{result}");
    assert!(
        (200..1000).contains(&result["earlier"].as_u64().unwrap()),
        "{result}"
    );
    assert_eq!(result["earlierStillOlder"], false, "{result}");
    assert_eq!(result["back"], 1000, "{result}");
}

#[tokio::test]
async fn elements_take_their_authors_colour_and_one_persons_contributions_stand_out() {
    let Some(result) = run("by-author").await else {
        return;
    };
    let colours = result["colours"].as_array().unwrap();
    assert_ne!(colours[0], colours[1], "two authors, two colours: {result}");
    assert_eq!(result["highlighted"]["bruno"], "1", "{result}");
    assert_eq!(result["highlighted"]["anne"], "0.25", "{result}");
    assert_eq!(result["byOrganisation"]["anne"], "1", "{result}");
    assert_eq!(result["byOrganisation"]["bruno"], "0.25", "{result}");
    let story = result["story"].as_array().unwrap();
    assert!(
        story
            .last()
            .and_then(|l| l.as_str())
            .is_some_and(|l| l.contains("Bruno (Vélo Vert) a créé")),
        "the oldest line of the story is its creation: {result}"
    );
    let hover = result["hover"].as_str().unwrap();
    assert!(
        hover.starts_with("Créé par Bruno (Vélo Vert)")
            && hover.contains("modifié en dernier par Bruno"),
        "{hover}"
    );
}

#[tokio::test]
async fn a_phone_joins_with_the_code_read_off_the_projector() {
    let Some(result) = run("join-code").await else {
        return;
    };
    let board_path = |key: &str| result[key].as_str().unwrap().starts_with("/b/");
    assert!(
        board_path("joinedPath"),
        "the join link leads to the join form: {result}"
    );
    assert!(
        board_path("fromHomePath"),
        "so does the home page's code field: {result}"
    );
    assert!(
        result["refusedText"].as_str().unwrap().contains("inconnu"),
        "a wrong code gets a page that says so, in French: {result}"
    );
    assert_eq!(
        result["shownCode"], result["code"],
        "the panel shows the board's code"
    );
    assert_ne!(
        result["renewed"], result["code"],
        "the facilitator renewed it"
    );
    assert_eq!(
        result["phoneStatus"], "Connected",
        "renewing the code disconnects nobody"
    );
}

#[tokio::test]
async fn each_board_fits_phone_tablet_desktop_and_projector_screens() {
    let Some(result) = run("screens").await else {
        return;
    };
    let screens = result.as_object().unwrap();
    assert_eq!(screens.len(), 12, "three kinds at four sizes: {result}");
    for (screen, metrics) in screens {
        assert_eq!(
            metrics["horizontalScroll"], false,
            "{screen}: the page never scrolls sideways"
        );
        assert_eq!(
            metrics["pageScrolls"], false,
            "{screen}: the board fills the window, the page does not scroll"
        );
        if screen.ends_with("-phone") || screen.ends_with("-tablet") {
            let share = metrics["boardShare"].as_f64().unwrap();
            assert!(
                share >= 0.7,
                "{screen}: the board takes {share} of the screen"
            );
        }
    }
}

#[tokio::test]
async fn fingers_zoom_the_map_add_ideas_from_a_long_press_and_vote_with_taps() {
    let Some(result) = run("touch").await else {
        return;
    };
    // The scenario waits, with deadlines, for what a Yjs client sees: the idea added from the
    // long-press menu, its text edited after a double tap, the note added and voted by taps.
    let (before, after) = (
        result["before"].as_f64().unwrap(),
        result["afterPinch"].as_f64().unwrap(),
    );
    assert!(
        after > before * 1.5,
        "spreading two fingers zooms in: scale {before} then {after}"
    );
    assert_eq!(
        result["noteToolsShown"], "visible",
        "a finger held on a note shows its tools: {result}"
    );
}

#[tokio::test]
async fn the_presenter_view_is_readable_from_the_back_and_projects_the_join_code() {
    let Some(result) = run("presenter").await else {
        return;
    };
    let px = |key: &str| result[key].as_f64().unwrap();
    assert!(px("centralPx") >= 28.0, "{result}");
    assert!(px("branchPx") >= 28.0, "{result}");
    assert_eq!(result["toolbarShown"], false, "no editing tools: {result}");
    assert_eq!(result["shownCode"], result["code"]);
    assert_eq!(
        result["decoded"], result["joinLink"],
        "the QR code reads as the join link"
    );
}

#[tokio::test]
async fn axe_finds_no_serious_accessibility_violation_on_any_page() {
    let Some(result) = run("axe").await else {
        return;
    };
    let pages = result.as_object().unwrap();
    assert_eq!(pages.len(), 14, "seven pages, desktop and phone: {result}");
    for (page, violations) in pages {
        assert_eq!(
            violations.as_array().unwrap().len(),
            0,
            "{page}: axe-core's serious or critical violations: {violations}"
        );
    }
}

#[tokio::test]
async fn an_idea_added_offline_survives_a_reload_without_network_and_reaches_the_others() {
    let Some(result) = run("offline-reload").await else {
        return;
    };
    // The scenario also waits, with a deadline, until a Yjs client sees the idea once the
    // network is back.
    let shown: Vec<String> = serde_json::from_value(result["afterReload"].clone()).unwrap();
    assert!(
        shown.iter().any(|t| t == "Écrit hors ligne"),
        "the page reloaded offline shows the idea from the device's copy: {shown:?}"
    );
}

#[tokio::test]
async fn the_timer_shows_the_same_time_on_every_screen_whatever_their_clocks() {
    let Some(result) = run("timer").await else {
        return;
    };
    let remaining = |key: &str| -> Vec<i64> {
        result[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["ms"].as_i64().unwrap())
            .collect()
    };
    // The scenario waits (with a deadline) until the three screens agree within a second;
    // here, what they agreed on.
    let paused = remaining("paused");
    assert!(
        paused.iter().all(|ms| *ms == paused[0]),
        "a paused timer shows one time everywhere: {paused:?}"
    );
    let (after_reload, extended) = (remaining("afterReload"), remaining("extended"));
    assert!(
        extended[0] >= after_reload[0] + 50_000,
        "+1 min adds a minute: {after_reload:?} then {extended:?}"
    );
    let timer = &result["inDocument"];
    assert_eq!(timer["durationMs"], 180_000, "meta.timer: {timer}");
    assert!(timer["startedAtMs"].as_f64().unwrap() > 1.7e12, "{timer}");
    assert_eq!(timer["sound"], true, "{timer}");
    assert_eq!(result["editorStop"], 403, "only the facilitator runs it");
}

#[tokio::test]
async fn reactions_count_once_per_participant_live_and_after_a_reload() {
    let Some(result) = run("reactions").await else {
        return;
    };
    // The scenario waits (with deadlines) until every page shows 👍 3 💡 1, then 👍 2 💡 1.
    let after_reload = &result["afterReload"];
    assert_eq!(after_reload["👍"], json!([2, "false"]), "{result}");
    assert_eq!(
        after_reload["💡"],
        json!([1, "true"]),
        "Lina's own idea reaction, pressed after a reload: {result}"
    );
    assert_eq!(
        result["marcsOwn"]["👍"],
        json!([2, "true"]),
        "Marc's, given, taken back and given again, counts once: {result}"
    );
    let csv = result["csv"].as_str().unwrap();
    assert!(csv.lines().next().unwrap().contains(",reactions,"), "{csv}");
    assert!(csv.contains("👍 2 💡 1"), "{csv}");
}

#[tokio::test]
async fn an_idea_typed_for_the_citizens_table_is_theirs_on_every_screen_and_in_the_csv() {
    let Some(result) = run("proxy").await else {
        return;
    };
    assert!(
        result["banner"]
            .as_str()
            .unwrap()
            .contains("Vous saisissez pour Table des citoyens (Saint-Camille)"),
        "{result}"
    );
    assert_eq!(
        result["bylines"]["navette"], "Table des citoyens (Saint-Camille), saisi par Lina",
        "the facilitator's page names the table and the typist: {result}"
    );
    assert_eq!(result["bylines"]["marche"], "Lina (Commune de Lodève)");
    assert_eq!(
        result["offered"],
        json!(["Table des citoyens"]),
        "the name already used is offered: {result}"
    );
    assert_eq!(
        (&result["orgFilled"], &result["kindFilled"]),
        (&json!("Saint-Camille"), &json!("citizen")),
        "choosing it fills in its organisation: {result}"
    );
    // A stock Yjs client's onBehalfOf added after the creation is in the document, and
    // changes nobody's credit: the byline is the record's.
    assert_eq!(result["claimedInDoc"], "Quelqu'un d'autre");
    assert_eq!(
        result["claimedByline"], "Lina (Commune de Lodève)",
        "{result}"
    );
    let rows = result["rows"].as_array().unwrap();
    assert!(
        rows.contains(&json!([
            "Table des citoyens (représenté·e)Saint-Camille",
            "2",
            true
        ])),
        "the contributions panel lists the table beside the participants: {result}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r[0].as_str().unwrap().contains("autre")),
        "{result}"
    );
    let csv = result["csv"].as_str().unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(",entered_by"),
        "{csv}"
    );
    assert!(
        csv.contains("Une navette le samedi,Table des citoyens,Saint-Camille,0,")
            && csv.contains(",Lina\n"),
        "{csv}"
    );
    assert!(
        csv.contains("Un marché de producteurs,Lina,Commune de Lodève,0,"),
        "{csv}"
    );
}

#[tokio::test]
async fn an_idea_goes_from_the_canvas_to_a_project_and_both_boards_and_the_report_show_its_path() {
    if !browser_ready() {
        return;
    }
    let dir = TempDir::new();
    let server = TestServer::start(dir.path()).await;
    let result = browser_scenario("path", &server.base).await.unwrap();
    let canvas = Board {
        id: result["canvas"]["id"].as_str().unwrap().to_owned(),
        viewer: result["canvas"]["viewer"].as_str().unwrap().to_owned(),
        facilitator: String::new(),
        editor: String::new(),
        response: Value::Null,
    };
    let (_, odt) = export_bytes(&server.base, &canvas, "odt").await;
    let (_, record_pdf) = export_bytes(&server.base, &canvas, "record-pdf").await;
    server.stop().await;
    keep_artifact("meeting-report.odt", &odt);
    keep_artifact("meeting-record.pdf", &record_pdf);

    assert_eq!(result["groupCount"], "2 idées regroupées", "{result}");
    assert_eq!(
        result["order"],
        json!([
            ["Se déplacer sans voiture", false],
            ["Une navette le samedi", true],
            ["Du covoiturage", true],
            ["Un téléphérique", false]
        ]),
        "the grouped ideas follow their heading, indented: {result}"
    );
    let kept = result["decisions"]["kept"].as_str().unwrap();
    assert!(kept.starts_with("Retenue — Animatrice, "), "{result}");
    let set_aside = result["decisions"]["setAside"].as_str().unwrap();
    assert!(
        set_aside.starts_with("Écartée — Animatrice, ")
            && set_aside.ends_with(" : Hors de portée du budget"),
        "{result}"
    );
    assert_eq!(
        result["offered"],
        json!(["Projets du territoire"]),
        "the portfolio this browser holds a link to is offered: {result}"
    );
    assert_eq!(result["linaSees"], "→ Projet : Une navette le samedi");
    assert_eq!(
        result["cards"][0][1].as_str().unwrap(),
        "Une navette le samedi↩ issu de l'idée « Une navette le samedi »",
        "{result}"
    );
    let stake = &result["stake"];
    assert_eq!(
        stake[2], result["navette"],
        "the project points back to the note"
    );
    assert!(
        stake[1]
            .as_str()
            .unwrap()
            .starts_with(&format!("/b/{}#token=", canvas.id)),
        "{result}"
    );
    let content = xml_unescape(&odt_parts(&odt).1);
    assert!(
        content.contains("1 idée retenue sur 4, dont 1 devenue un projet ; 1 écartée"),
        "{content}"
    );
    assert!(
        content.contains("« Une navette le samedi » · proposée par Lina · regroupée sous « Se déplacer sans voiture » · 2 votes · retenue par Animatrice le "),
        "{content}"
    );
    if let Some(text) = pdf_text(&record_pdf) {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("1 idée retenue sur 4, dont 1 devenue un projet"),
            "{flat}"
        );
    }
}

/// One scripted meeting on a canvas, its screenshots (`artifacts/meeting-*.png`) and the
/// report's pages (`meeting-record-N.png`, and `meeting-report-N.png` where LibreOffice is
/// installed) kept for people to look at.
#[tokio::test]
async fn a_scripted_meeting_runs_from_the_timer_to_the_report() {
    let Some(result) = run("meeting").await else {
        return;
    };
    let clock = result["timerText"].as_str().unwrap();
    assert!(
        clock.starts_with("9:") || clock == "10:00",
        "ten minutes on the phone: {result}"
    );
    assert!(
        result["summoned"]
            .as_str()
            .unwrap()
            .contains("Vous suivez la vue de Animatrice"),
        "{result}"
    );
    assert_eq!(
        result["cafeByline"],
        "Table des citoyens (Saint-Camille), saisi par Lina"
    );
    let shots = std::path::Path::new(result["shots"].as_str().unwrap());
    let record = std::fs::read(shots.join("meeting-record.pdf")).unwrap();
    if let Some(text) = pdf_text(&record) {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("2 idées retenues sur 5, dont 1 devenue un projet ; 1 écartée"),
            "{flat}"
        );
        assert!(
            flat.contains("Table des citoyens (représenté·e"),
            "the record lists the table: {flat}"
        );
        assert!(
            flat.contains("Lina (Commune de Lodève) a modifié « Se déplacer sans voiture » (×"),
            "a sentence's keystrokes make one line of the timeline: {flat}"
        );
        let pages = std::process::Command::new("pdftoppm")
            .args(["-r", "70", "-png"])
            .arg(shots.join("meeting-record.pdf"))
            .arg(shots.join("meeting-record"))
            .status()
            .unwrap();
        assert!(pages.success());
    }
    // The meeting report as LibreOffice lays it out, where it is installed (not in CI).
    let converted = std::process::Command::new("soffice")
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(shots)
        .arg(shots.join("meeting-report.odt"))
        .output();
    if converted.is_ok_and(|o| o.status.success()) {
        let _ = std::process::Command::new("pdftoppm")
            .args(["-r", "70", "-png"])
            .arg(shots.join("meeting-report.pdf"))
            .arg(shots.join("meeting-report"))
            .status();
    }
}

#[tokio::test]
async fn with_pseudonyms_the_participants_pages_name_nobody_and_the_facilitators_panel_does() {
    let Some(result) = run("pseudonyms").await else {
        return;
    };
    let names = |key: &str| result[key].to_string();
    for key in ["animPresence", "linaPresence", "linaByline", "linaPanel"] {
        assert!(
            !names(key).contains("Lina Roy") && !names(key).contains("Animatrice"),
            "{key}: {result}"
        );
    }
    assert!(
        names("linaPresence").contains("Participant·e 2 (vous)"),
        "{result}"
    );
    assert_eq!(result["linaByline"], "Participant·e 2");
    assert!(names("linaPanel").contains("Participant·e 1"), "{result}");
    assert!(
        names("animPanel").contains("Lina Roy") && names("animPanel").contains("Vélo Vert"),
        "the facilitator reads the names: {result}"
    );
}

#[tokio::test]
async fn the_facilitator_summons_everybody_to_their_view_and_one_leaves_with_a_drag() {
    let Some(result) = run("follow").await else {
        return;
    };
    // The scenario waits (with deadlines) until both participants' screens centre on the
    // facilitator's map point at the facilitator's zoom, and Marc's again after the next move.
    let at = |key: &str| {
        let v = &result[key];
        (
            v["x"].as_f64().unwrap(),
            v["y"].as_f64().unwrap(),
            v["scale"].as_f64().unwrap(),
        )
    };
    let (before, summoned) = (at("before"), at("linaSummoned"));
    assert!(
        (before.0 - summoned.0).abs() > 50.0 && summoned.2 > before.2,
        "the summons moved Lina's view: {before:?} then {summoned:?}"
    );
    assert!(
        result["banner"].as_str().unwrap().contains("Animatrice"),
        "{result}"
    );
    let (left, after, facilitator) = (at("linaLeft"), at("linaAfter"), at("facilitator"));
    assert_ne!(left, summoned, "Lina's own drag moved her view");
    assert_eq!(
        left, after,
        "Lina, no longer following, stayed where she was"
    );
    assert!(
        (after.0 - facilitator.0).abs() > 50.0,
        "the facilitator moved on without her: {after:?} {facilitator:?}"
    );
    let marc = at("marcFollowed");
    assert!(
        (marc.0 - facilitator.0).abs() < 1.0 && (marc.1 - facilitator.1).abs() < 1.0,
        "Marc kept following: {marc:?} {facilitator:?}"
    );
}

#[tokio::test]
async fn a_private_round_keeps_each_page_s_ideas_to_itself_until_the_reveal() {
    let Some(result) = run("privateRound").await else {
        return;
    };
    // Somebody using Anne's pid with another secret is refused and sees nothing.
    assert_eq!(
        result["thiefCloseCode"],
        shared::wire::close::FORBIDDEN,
        "{result}"
    );
    assert_eq!(result["thiefNotes"], 0);
    // The facilitator's panel counts the spaces opened (Anne's, Lina's, the facilitator's).
    assert_eq!(
        result["animWriters"], "Espaces privés ouverts : 3",
        "{result}"
    );
    let before = &result["beforeReveal"];
    for private in ["navette", "arceaux", "réparation"] {
        for key in ["animText", "stockNotes"] {
            assert!(
                !before[key].to_string().contains(private),
                "{key} shows {private}: {result}"
            );
        }
    }
    assert!(
        !before["linaText"].to_string().contains("navette"),
        "{result}"
    );
    assert_eq!(
        before["anneCanvas"],
        serde_json::json!(["Un marché le jeudi"]),
        "{result}"
    );
    assert_eq!(
        result["anneAfterReload"],
        serde_json::json!(["Des arceaux vélo", "Une navette le samedi"])
    );
    assert_eq!(
        result["stockAfter"],
        serde_json::json!([
            "Des arceaux vélo",
            "Un atelier de réparation",
            "Un marché le jeudi",
            "Une navette le samedi"
        ])
    );
    assert_eq!(result["linaByline"], "Anne Bérubé (Commune de Lodève)");
    let csv = result["csvLine"].as_str().unwrap_or_default();
    assert!(csv.contains("Anne Bérubé,Commune de Lodève"), "{result}");
    let panel = result["animPanel"].as_str().unwrap_or_default();
    assert!(
        panel.contains("Anne BérubéCommune de Lodève2"),
        "two ideas credited: {panel}"
    );
}
