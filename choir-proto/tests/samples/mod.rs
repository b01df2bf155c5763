//! One sample of every wire variant, shared by the protocol tests.

#![allow(dead_code)]

use choir_proto::apps::{AppInput, Capability, Color, Span, SpanStyle, ViewNode, ViewTree};
use choir_proto::calendar::CalendarItem;
use choir_proto::mail::{
    AccountSettings, InvitationAnswer, MailAttachment, MailHeader, MailMessage,
};
use choir_proto::{
    AppKind, CallId, ChatMessage, ChatRole, ClientFrame, Command, Doc, DocId, EphemeralBody,
    ErrorCode, Event, EventBody, Layout, Moment, Query, Rect, Reply, Seek, ServerFrame, Settings,
    TextOp, ThemeChoice, ThreadId, ThreadPage, WindowId, World, PROTOCOL_VERSION,
};
use serde_json::json;

fn mail_header() -> MailHeader {
    MailHeader {
        uid: 42,
        from: "Bob <bob@example.test>".into(),
        to: "alice@example.test".into(),
        subject: "Lunch? ✓".into(),
        date: "2026-12-05T12:00:00+00:00".into(),
        message_id: "<42@example.test>".into(),
        size: 2048,
        seen: false,
    }
}

pub fn event(seq: u64, body: EventBody) -> Event {
    Event {
        seq,
        ts: 1_700_000_000_000 + seq as i64,
        actor: "client:test".into(),
        correlation: Some(format!("c{seq}")),
        v: 1,
        body,
    }
}

/// Every `EventBody` variant. The match below fails to compile when a variant is added
/// without a sample here.
pub fn event_bodies() -> Vec<EventBody> {
    let w = WindowId(3);
    let bodies = vec![
        EventBody::WindowOpened {
            window_id: w,
            app: AppKind::Chat,
            title: "Chat".into(),
            rect: Rect::new(2, 1, 60, 16),
        },
        EventBody::WindowMoved {
            window_id: w,
            x: 10,
            y: 4,
        },
        EventBody::WindowResized {
            window_id: w,
            w: 40,
            h: 12,
        },
        EventBody::WindowFocused { window_id: w },
        EventBody::WindowMinimized { window_id: w },
        EventBody::WindowRestored { window_id: w },
        EventBody::WindowMaximized {
            window_id: w,
            area: Some(Rect::new(0, 0, 120, 38)),
        },
        EventBody::WindowUnmaximized { window_id: w },
        EventBody::WindowClosed { window_id: w },
        EventBody::ChatThreadCreated {
            thread_id: ThreadId(1),
            title: "Ideas".into(),
        },
        EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: "hello\nworld ✓ 漢字".into(),
        },
        EventBody::ChatAssistantMessage {
            thread_id: ThreadId(1),
            text: "hi".into(),
            tool_calls: vec![choir_proto::PlannedCall {
                call_id: CallId("call_0".into()),
                tool: "bash".into(),
                args: json!({"cmd": "ls"}),
            }],
            ending: Some(choir_proto::MessageEnding::CutOff),
        },
        EventBody::ChatTurnStarted {
            thread_id: ThreadId(1),
        },
        EventBody::ChatTurnCompleted {
            thread_id: ThreadId(1),
        },
        EventBody::ChatCancelRequested {
            thread_id: ThreadId(1),
        },
        EventBody::ChatTurnCancelled {
            thread_id: ThreadId(1),
        },
        EventBody::ChatTurnFailed {
            thread_id: ThreadId(1),
            error: "provider returned 500".into(),
        },
        EventBody::DocCreated {
            doc_id: DocId(7),
            title: "Notes".into(),
            content: "# Notes\n".into(),
        },
        EventBody::DocEdited {
            doc_id: DocId(7),
            version: 1,
            op: TextOp::new().retain(2).insert("Meeting ").retain(6),
            edit_id: Some("tui-1a2b-0".into()),
        },
        EventBody::DocRenamed {
            doc_id: DocId(7),
            title: "Renamed".into(),
        },
        EventBody::DocDeleted { doc_id: DocId(7) },
        EventBody::WriterDocShown {
            window_id: WindowId(2),
            doc_id: Some(DocId(7)),
        },
        EventBody::ToolRequested {
            call_id: CallId("call_1".into()),
            tool: "bash".into(),
            args: json!({"cmd": "ls"}),
            thread_id: Some(ThreadId(1)),
            needs_approval: true,
            preview: Some("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n".into()),
        },
        EventBody::ChatSubagentStarted {
            thread_id: ThreadId(2),
            parent: ThreadId(1),
            call_id: CallId("call_2".into()),
            depth: 1,
            tools: vec!["read_file".into()],
        },
        EventBody::ToolApproved {
            call_id: CallId("call_1".into()),
        },
        EventBody::ToolDenied {
            call_id: CallId("call_1".into()),
            reason: "no".into(),
        },
        EventBody::ToolStarted {
            call_id: CallId("call_1".into()),
            tool: "bash".into(),
            args: json!({"cmd": "ls"}),
            thread_id: Some(ThreadId(1)),
        },
        EventBody::ToolFinished {
            call_id: CallId("call_1".into()),
            ok: true,
            exit_code: Some(0),
            output: "a\nb\n".into(),
            duration_ms: 12,
        },
        EventBody::Unknown {
            type_name: "future.thing".into(),
            data: json!({"x": [1, 2]}),
        },
        EventBody::ShellStarted {
            window_id: WindowId(4),
            program: "/bin/bash in ~/workspace".into(),
            rows: 10,
            cols: 40,
            scrollback: 10_000,
        },
        EventBody::ShellOutput {
            window_id: WindowId(4),
            data: "$ ls\r\n\u{1b}[1;34mdocs\u{1b}[0m  ✓\r\n$ ".into(),
            chunk: 7,
        },
        EventBody::ShellResized {
            window_id: WindowId(4),
            rows: 8,
            cols: 30,
        },
        EventBody::ShellScreen {
            window_id: WindowId(4),
            rows: 8,
            cols: 30,
            image: "\u{1b}[H\u{1b}[Jyes\r\nyes".into(),
            skipped: 104_857_600,
        },
        EventBody::ShellEnded {
            window_id: WindowId(4),
            reason: "exited with status 0".into(),
            exit_code: Some(0),
        },
        EventBody::SettingsChanged {
            settings: Settings {
                prefix: "C-b".into(),
                bindings: [("new-shell".to_owned(), "S".to_owned())].into(),
                theme: ThemeChoice::Dark,
                shell: Some("/bin/zsh".into()),
                scrollback: 500,
                notifications: false,
            },
            problem: Some("config.toml line 7: unknown key `colour`".into()),
        },
        EventBody::LayoutChanged {
            layout: Some(Layout::single(Rect::new(0, 0, 120, 33), WindowId(4)).split(
                WindowId(4),
                WindowId(5),
                false,
            )),
        },
        EventBody::MailFolderOpened {
            window_id: WindowId(6),
            account: "alice@example.test".into(),
            folder: "Archive/2026".into(),
            offset: 50,
            query: Default::default(),
        },
        EventBody::MailPageShown {
            window_id: WindowId(6),
            account: "alice@example.test".into(),
            accounts: vec!["alice@example.test".into(), "work@example.test".into()],
            folders: vec!["INBOX".into(), "Archive/2026".into()],
            folder: "INBOX".into(),
            validity: 1_733_000_000,
            total: 10_000,
            offset: 0,
            headers: vec![mail_header()],
            query: Default::default(),
        },
        EventBody::MailMessageOpened {
            window_id: WindowId(6),
            uid: Some(42),
        },
        EventBody::MailMessageShown {
            window_id: WindowId(6),
            message: Box::new(MailMessage {
                header: mail_header(),
                cc: "carol@example.test".into(),
                text: "Noon?\n\n— Bob".into(),
                cut: true,
                attachments: vec![MailAttachment {
                    name: "menu.pdf".into(),
                    content_type: "application/pdf".into(),
                    size: 52_428_800,
                }],
                invitations: vec!["REQUEST: Lunch, 2026-12-07T12:00:00Z".into()],
            }),
        },
        EventBody::MailArrived {
            account: "alice@example.test".into(),
            folder: "INBOX".into(),
            total: 10_001,
            headers: vec![mail_header()],
        },
        EventBody::MailFailed {
            window_id: WindowId(6),
            error: "imap://127.0.0.1:1 cannot be reached: connection refused".into(),
        },
        EventBody::MailInvitationAnswered {
            window_id: WindowId(6),
            uid: 42,
            answer: InvitationAnswer::Accept,
        },
        EventBody::MailAttachmentsSaving {
            window_id: WindowId(6),
            uid: 42,
            names: vec!["menu.pdf".into(), "../../etc/passwd".into()],
        },
        EventBody::MailDone {
            window_id: WindowId(6),
            said: "accepted “Lunch” for bob@example.test; it is in the calendar".into(),
        },
        EventBody::MailSendRequested { doc_id: DocId(8) },
        EventBody::MailSendFailed {
            doc_id: DocId(8),
            error: "the draft names no recipient".into(),
        },
        EventBody::MailSent {
            doc_id: DocId(8),
            account: "alice@example.test".into(),
            to: "bob@example.test".into(),
            subject: "Re: Lunch?".into(),
        },
        EventBody::CalendarRangeOpened {
            window_id: WindowId(7),
            from: "2026-12-07".into(),
            days: 7,
            week: true,
        },
        EventBody::CalendarRangeShown {
            window_id: WindowId(7),
            account: "alice@example.test".into(),
            from: "2026-12-07".into(),
            days: 7,
            events: vec![
                CalendarItem {
                    uid: "standup@choiros".into(),
                    title: "Standup ✓".into(),
                    start: "2026-12-07T09:00:00Z".into(),
                    end: "2026-12-07T09:15:00Z".into(),
                    location: "Room 1".into(),
                },
                CalendarItem {
                    uid: "holiday".into(),
                    title: "Holiday".into(),
                    start: "2026-12-24".into(),
                    end: "2026-12-25".into(),
                    location: String::new(),
                },
            ],
        },
        EventBody::CalendarAddRequested {
            window_id: WindowId(7),
            title: "Lunch".into(),
            start: "2026-12-08T12:00:00Z".into(),
            end: "2026-12-08T13:00:00Z".into(),
        },
        EventBody::CalendarMoveRequested {
            window_id: WindowId(7),
            uid: "standup@choiros".into(),
            start: "2026-12-08T09:00:00Z".into(),
            end: "2026-12-08T09:15:00Z".into(),
        },
        EventBody::CalendarDeleteRequested {
            window_id: WindowId(7),
            uid: "standup@choiros".into(),
        },
        EventBody::CalendarFailed {
            window_id: WindowId(7),
            error: "no calendar: the account has no CalDAV URL (CHOIR_CALDAV_URL)".into(),
        },
        EventBody::AppBuilt {
            name: "timer".into(),
            version: "0123456789abcdef".into(),
            bytes: 29_062,
        },
        EventBody::AppReceived {
            window_id: WindowId(9),
            input: AppInput::Submit {
                id: "length".into(),
                value: "25 ✓".into(),
            },
        },
        EventBody::AppViewShown {
            window_id: WindowId(9),
            version: "0123456789abcdef".into(),
            view: ViewTree {
                nodes: vec![
                    ViewNode::Column {
                        children: vec![1, 2, 3, 4, 5, 6, 7],
                    },
                    ViewNode::Text {
                        spans: vec![Span {
                            text: "Pomodoro 25:00".into(),
                            style: SpanStyle {
                                fg: Color::Green,
                                bold: true,
                                ..SpanStyle::default()
                            },
                        }],
                    },
                    ViewNode::Row { children: vec![] },
                    ViewNode::List {
                        id: "sessions".into(),
                        items: vec![vec![Span::plain("one")]],
                        selected: Some(0),
                    },
                    ViewNode::Table {
                        header: vec!["hour".into(), "calls".into()],
                        rows: vec![vec!["09:00".into(), "3".into()]],
                    },
                    ViewNode::Button {
                        id: "start".into(),
                        label: "Start".into(),
                    },
                    ViewNode::Input {
                        id: "length".into(),
                        value: "25".into(),
                        placeholder: "minutes".into(),
                    },
                    ViewNode::Scroll { child: 8 },
                    ViewNode::Text { spans: vec![] },
                ],
                tick_after_ms: Some(1000),
            },
        },
        EventBody::AppStored {
            name: "timer".into(),
            key: "done".into(),
            value: Some("3".into()),
        },
        EventBody::AppFailed {
            window_id: WindowId(9),
            error: "the app ran out of fuel".into(),
        },
        EventBody::AppCapabilityAsked {
            name: "timer".into(),
            capability: Capability::Http {
                host: "example.org".into(),
            },
        },
        EventBody::AppCapabilityAnswered {
            name: "timer".into(),
            capability: Capability::Store,
            granted: true,
        },
        EventBody::AppRemoved {
            name: "timer".into(),
        },
    ];
    for body in &bodies {
        match body {
            EventBody::WindowOpened { .. }
            | EventBody::WindowMoved { .. }
            | EventBody::WindowResized { .. }
            | EventBody::WindowFocused { .. }
            | EventBody::WindowMinimized { .. }
            | EventBody::WindowRestored { .. }
            | EventBody::WindowMaximized { .. }
            | EventBody::WindowUnmaximized { .. }
            | EventBody::WindowClosed { .. }
            | EventBody::ChatThreadCreated { .. }
            | EventBody::ChatSubagentStarted { .. }
            | EventBody::ChatUserMessage { .. }
            | EventBody::ChatAssistantMessage { .. }
            | EventBody::ChatTurnStarted { .. }
            | EventBody::ChatTurnCompleted { .. }
            | EventBody::ChatCancelRequested { .. }
            | EventBody::ChatTurnCancelled { .. }
            | EventBody::ChatTurnFailed { .. }
            | EventBody::DocCreated { .. }
            | EventBody::DocEdited { .. }
            | EventBody::DocRenamed { .. }
            | EventBody::DocDeleted { .. }
            | EventBody::WriterDocShown { .. }
            | EventBody::ToolRequested { .. }
            | EventBody::ToolApproved { .. }
            | EventBody::ToolDenied { .. }
            | EventBody::ToolStarted { .. }
            | EventBody::ToolFinished { .. }
            | EventBody::ShellStarted { .. }
            | EventBody::ShellOutput { .. }
            | EventBody::ShellResized { .. }
            | EventBody::ShellScreen { .. }
            | EventBody::ShellEnded { .. }
            | EventBody::SettingsChanged { .. }
            | EventBody::LayoutChanged { .. }
            | EventBody::MailFolderOpened { .. }
            | EventBody::MailPageShown { .. }
            | EventBody::MailMessageOpened { .. }
            | EventBody::MailMessageShown { .. }
            | EventBody::MailArrived { .. }
            | EventBody::MailFailed { .. }
            | EventBody::MailSendRequested { .. }
            | EventBody::MailInvitationAnswered { .. }
            | EventBody::MailDone { .. }
            | EventBody::MailAttachmentsSaving { .. }
            | EventBody::MailSendFailed { .. }
            | EventBody::MailSent { .. }
            | EventBody::CalendarRangeOpened { .. }
            | EventBody::CalendarRangeShown { .. }
            | EventBody::CalendarAddRequested { .. }
            | EventBody::CalendarMoveRequested { .. }
            | EventBody::CalendarDeleteRequested { .. }
            | EventBody::CalendarFailed { .. }
            | EventBody::AppBuilt { .. }
            | EventBody::AppRemoved { .. }
            | EventBody::AppReceived { .. }
            | EventBody::AppViewShown { .. }
            | EventBody::AppStored { .. }
            | EventBody::AppFailed { .. }
            | EventBody::AppCapabilityAsked { .. }
            | EventBody::AppCapabilityAnswered { .. }
            | EventBody::Unknown { .. } => {}
        }
    }
    bodies
}

/// Every `Command` variant.
pub fn commands() -> Vec<Command> {
    let w = WindowId(3);
    let commands = vec![
        Command::OpenWindow {
            app: AppKind::EventLog,
            title: None,
            rect: None,
        },
        Command::OpenWindow {
            app: AppKind::Writer,
            title: Some("Draft".into()),
            rect: Some(Rect::new(0, 0, 80, 24)),
        },
        Command::MoveWindow {
            window_id: w,
            x: 5,
            y: 6,
        },
        Command::ResizeWindow {
            window_id: w,
            w: 30,
            h: 10,
        },
        Command::FocusWindow { window_id: w },
        Command::MinimizeWindow { window_id: w },
        Command::RestoreWindow { window_id: w },
        Command::ToggleMaximize {
            window_id: w,
            area: Some(Rect::new(0, 0, 120, 38)),
        },
        Command::CloseWindow { window_id: w },
        Command::TileWindows {
            area: Rect::new(0, 0, 120, 40),
        },
        Command::SplitWindow {
            window_id: w,
            stacked: true,
            area: Rect::new(0, 0, 120, 33),
        },
        Command::FitLayout {
            area: Rect::new(0, 0, 80, 22),
        },
        Command::PostChat {
            thread_id: ThreadId(3),
            text: "hello".into(),
        },
        Command::CancelTurn {
            thread_id: ThreadId(3),
        },
        Command::ApproveTool {
            call_id: CallId("call_1".into()),
        },
        Command::CreateDoc {
            title: "Notes".into(),
            content: "# Notes\n".into(),
            open: true,
            window_id: None,
        },
        Command::CreateDoc {
            title: "Draft".into(),
            content: String::new(),
            open: false,
            window_id: Some(w),
        },
        Command::EditDoc {
            doc_id: DocId(7),
            base_version: 4,
            op: TextOp::new().retain(3).delete(2).insert("é").retain(1),
            edit_id: Some("tui-1a2b-1".into()),
        },
        Command::RenameDoc {
            doc_id: DocId(7),
            title: "Minutes".into(),
        },
        Command::DeleteDoc { doc_id: DocId(7) },
        Command::ShowDoc {
            window_id: w,
            doc_id: None,
        },
        Command::DenyTool {
            call_id: CallId("call_1".into()),
            reason: Some("not now".into()),
        },
        Command::ShellInput {
            window_id: w,
            data: "ls\r\u{1b}[A".into(),
        },
        Command::RestartShell { window_id: w },
        Command::OpenMailFolder {
            window_id: w,
            account: Some("work@example.test".into()),
            folder: "INBOX".into(),
            offset: 100,
            query: Default::default(),
        },
        Command::OpenMailMessage {
            window_id: w,
            uid: Some(42),
        },
        Command::OpenMailMessage {
            window_id: w,
            uid: None,
        },
        Command::ComposeMail {
            window_id: w,
            reply: true,
            forward: false,
        },
        Command::SendMail { doc_id: DocId(8) },
        Command::OpenCalendarRange {
            window_id: w,
            from: "2026-12-07".into(),
            days: 7,
            week: false,
        },
        Command::AddCalendarEvent {
            window_id: w,
            title: "Lunch".into(),
            start: "2026-12-08T12:00:00Z".into(),
            end: "2026-12-08T13:00:00Z".into(),
        },
        Command::MoveCalendarEvent {
            window_id: w,
            uid: "standup@choiros".into(),
            start: "2026-12-08T09:00:00Z".into(),
            end: "2026-12-08T09:15:00Z".into(),
        },
        Command::DeleteCalendarEvent {
            window_id: w,
            uid: "standup@choiros".into(),
        },
        Command::SaveAttachments { window_id: w },
        Command::AnswerInvitation {
            window_id: w,
            answer: InvitationAnswer::Tentative,
        },
        Command::AddMailAccount {
            window_id: w,
            settings: AccountSettings(
                [
                    (
                        "CHOIR_IMAP_URL".to_owned(),
                        "imaps://mail.example.org".to_owned(),
                    ),
                    ("CHOIR_MAIL_PASSWORD".to_owned(), "app password".to_owned()),
                ]
                .into(),
            ),
        },
        Command::SendAppInput {
            window_id: WindowId(9),
            input: AppInput::Tick {
                at_ms: 1_700_000_000_000,
            },
        },
        Command::AnswerAppCapability {
            name: "timer".into(),
            capability: Capability::ReadLog,
            granted: false,
        },
        Command::RemoveApp {
            name: "timer".into(),
        },
    ];
    for command in &commands {
        match command {
            Command::OpenWindow { .. }
            | Command::MoveWindow { .. }
            | Command::ResizeWindow { .. }
            | Command::FocusWindow { .. }
            | Command::MinimizeWindow { .. }
            | Command::RestoreWindow { .. }
            | Command::ToggleMaximize { .. }
            | Command::CloseWindow { .. }
            | Command::TileWindows { .. }
            | Command::SplitWindow { .. }
            | Command::FitLayout { .. }
            | Command::PostChat { .. }
            | Command::CancelTurn { .. }
            | Command::ApproveTool { .. }
            | Command::DenyTool { .. }
            | Command::CreateDoc { .. }
            | Command::EditDoc { .. }
            | Command::RenameDoc { .. }
            | Command::DeleteDoc { .. }
            | Command::ShowDoc { .. }
            | Command::ShellInput { .. }
            | Command::RestartShell { .. }
            | Command::OpenMailFolder { .. }
            | Command::OpenMailMessage { .. }
            | Command::ComposeMail { .. }
            | Command::SendMail { .. }
            | Command::AddMailAccount { .. }
            | Command::AnswerInvitation { .. }
            | Command::SaveAttachments { .. }
            | Command::OpenCalendarRange { .. }
            | Command::AddCalendarEvent { .. }
            | Command::MoveCalendarEvent { .. }
            | Command::DeleteCalendarEvent { .. }
            | Command::SendAppInput { .. }
            | Command::AnswerAppCapability { .. }
            | Command::RemoveApp { .. } => {}
        }
    }
    commands
}

pub fn client_frames() -> Vec<ClientFrame> {
    let mut frames = vec![
        ClientFrame::Hello {
            protocol: 1,
            token: Some("secret".into()),
            resume_from: Some(41),
            client: Some("tui".into()),
        },
        ClientFrame::Hello {
            protocol: 1,
            token: None,
            resume_from: None,
            client: None,
        },
        ClientFrame::Ping { nonce: 9 },
        ClientFrame::Query {
            id: 20,
            query: Query::ThreadMessages {
                thread_id: ThreadId(1),
                before: Some(120),
                limit: 50,
            },
        },
        ClientFrame::Query {
            id: 21,
            query: Query::ThreadMessages {
                thread_id: ThreadId(1),
                before: None,
                limit: 50,
            },
        },
        ClientFrame::Query {
            id: 22,
            query: Query::Doc { doc_id: DocId(1) },
        },
        ClientFrame::Query {
            id: 23,
            query: Query::DocAt {
                doc_id: DocId(1),
                version: 3,
                seq: 40,
            },
        },
    ];
    frames.extend(
        [
            Seek::Seq { seq: 40 },
            Seek::Time {
                ts: 1_700_000_060_000,
            },
            Seek::Mark {
                from: 40,
                forward: false,
            },
        ]
        .into_iter()
        .map(|at| ClientFrame::Query {
            id: 24,
            query: Query::Moment { at },
        }),
    );
    frames.extend(
        commands()
            .into_iter()
            .enumerate()
            .map(|(id, command)| ClientFrame::Command {
                id: id as u64,
                command,
            }),
    );
    frames
}

pub fn server_frames() -> Vec<ServerFrame> {
    let world = World::replay(
        &event_bodies()[..3]
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, body)| event(i as u64 + 1, body))
            .collect::<Vec<_>>(),
    );
    let mut frames = vec![
        ServerFrame::Welcome {
            protocol: 1,
            head: 3,
            snapshot: Some(Box::new(world)),
            read_only: false,
        },
        ServerFrame::Welcome {
            protocol: 1,
            head: 3,
            snapshot: None,
            read_only: false,
        },
        ServerFrame::Welcome {
            protocol: 2,
            head: 3,
            snapshot: None,
            read_only: true,
        },
        ServerFrame::Event {
            event: event(
                4,
                EventBody::WindowClosed {
                    window_id: WindowId(3),
                },
            ),
        },
        ServerFrame::Ephemeral {
            body: EphemeralBody::ChatDelta {
                thread_id: ThreadId(1),
                text: "Hel".into(),
            },
        },
        ServerFrame::Ephemeral {
            body: EphemeralBody::Typing {
                thread_id: ThreadId(1),
                actor: "user".into(),
            },
        },
        ServerFrame::Ephemeral {
            body: EphemeralBody::ShellOutput {
                window_id: WindowId(4),
                chunk: 8,
                data: "l".into(),
            },
        },
        ServerFrame::Ephemeral {
            body: EphemeralBody::ModelUsage(choir_proto::ModelUsage {
                requests_today: 3,
                tokens_today: 12_345,
                tokens_per_day: 1_000_000,
            }),
        },
        ServerFrame::Ack {
            id: 5,
            seqs: vec![4, 5],
        },
        ServerFrame::Pong { nonce: 9 },
        ServerFrame::Reply {
            id: 20,
            reply: Reply::ThreadMessages {
                page: ThreadPage {
                    thread_id: ThreadId(1),
                    messages: vec![ChatMessage {
                        seq: 7,
                        ts: 1_700_000_000_000,
                        role: ChatRole::User,
                        text: "hello".into(),
                        ending: None,
                    }],
                    tools: Vec::new(),
                    more: true,
                },
            },
        },
        ServerFrame::Reply {
            id: 22,
            reply: Reply::Doc {
                doc: Doc::new(DocId(1), "Notes", "first line", 9),
            },
        },
        ServerFrame::Reply {
            id: 23,
            reply: Reply::Moment {
                moment: Moment {
                    seq: 2,
                    ts: 1_700_000_000_000,
                    head: 9,
                    world: Box::new(World::default()),
                    at: Some(Seek::Time {
                        ts: 1_700_000_000_500,
                    }),
                },
            },
        },
    ];
    // A welcome as daemons send it: a summary, documents without their text.
    let mut full = World::default();
    for (seq, body) in [
        EventBody::DocCreated {
            doc_id: DocId(1),
            title: "Notes".into(),
            content: "a long text".into(),
        },
        EventBody::ChatThreadCreated {
            thread_id: ThreadId(1),
            title: "Chat".into(),
        },
        EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: "old".into(),
        },
        EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: "new".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        full.apply(&event(seq as u64 + 1, body));
    }
    frames.push(ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: 4,
        snapshot: Some(Box::new(full.summary(1))),
        read_only: false,
    });
    for code in error_codes() {
        frames.push(ServerFrame::Error {
            id: Some(5),
            code,
            message: code.as_str().into(),
        });
    }
    frames
}

pub fn error_codes() -> Vec<ErrorCode> {
    let codes = vec![
        ErrorCode::MalformedFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::ExpectedHello,
        ErrorCode::Unauthorized,
        ErrorCode::ProtocolVersion,
        ErrorCode::UnknownCommand,
        ErrorCode::InvalidCommand,
        ErrorCode::NotFound,
        ErrorCode::UnknownTool,
        ErrorCode::InvalidArguments,
        ErrorCode::ResumeBeyondHead,
        ErrorCode::ReadOnly,
        ErrorCode::Internal,
    ];
    for code in &codes {
        match code {
            ErrorCode::MalformedFrame
            | ErrorCode::FrameTooLarge
            | ErrorCode::ExpectedHello
            | ErrorCode::Unauthorized
            | ErrorCode::ProtocolVersion
            | ErrorCode::UnknownCommand
            | ErrorCode::InvalidCommand
            | ErrorCode::NotFound
            | ErrorCode::UnknownTool
            | ErrorCode::InvalidArguments
            | ErrorCode::ResumeBeyondHead
            | ErrorCode::ReadOnly
            | ErrorCode::Internal
            | ErrorCode::Unknown => {}
        }
    }
    codes
}
