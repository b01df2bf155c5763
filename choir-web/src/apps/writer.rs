//! A writer window: the document list, or one document in a real text area. Typing becomes
//! edits through the shared document sync; others' edits come in with the caret kept on the
//! same text (see the root's `merge`).

use choir_proto::client::DocText;
use choir_proto::{Command, Window, World};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::msg::Msg;

/// A writer window's text in this tab.
pub struct Editor {
    pub doc: DocText,
    /// The text area does not show `doc`'s text yet.
    pub stale: bool,
    /// Its text area.
    pub area: NodeRef,
}

impl Editor {
    pub fn area(&self) -> Option<HtmlTextAreaElement> {
        self.area.cast::<HtmlTextAreaElement>()
    }
}

pub fn view(send: &Callback<Msg>, world: &World, editor: Option<&Editor>, window: &Window) -> Html {
    let id = window.id;
    let Some(doc_id) = window.doc_id else {
        let create = send.reform(move |_: MouseEvent| {
            Msg::Send(Command::CreateDoc {
                title: "Untitled".into(),
                content: String::new(),
                open: false,
                window_id: Some(id),
            })
        });
        return html! {
            <div class="doc-list" role="list" aria-label="documents">
                { for world.docs.values().map(|doc| {
                    let doc_id = doc.id;
                    let open = send.reform(move |_: MouseEvent| Msg::Send(Command::ShowDoc { window_id: id, doc_id: Some(doc_id) }));
                    html! {
                        <button class="doc" role="listitem" data-doc-id={ doc.id.0.to_string() } onclick={ open }>
                            <span class="doc-title">{ doc.title.clone() }</span>
                            <span class="muted">{ format!(" · {} chars · v{}", doc.len, doc.version) }</span>
                        </button>
                    }
                }) }
                if world.docs.is_empty() { <p class="muted">{ "No documents yet." }</p> }
                <button data-action="new-doc" onclick={ create }>{ "+ New document" }</button>
            </div>
        };
    };
    let back = send.reform(move |_: MouseEvent| {
        Msg::Send(Command::ShowDoc {
            window_id: id,
            doc_id: None,
        })
    });
    let Some(editor) = editor else {
        return html! { <p class="muted" aria-busy="true">{ "loading the document…" }</p> };
    };
    let saved = if editor.doc.is_saved() {
        "saved"
    } else {
        "saving…"
    };
    let draft = world
        .docs
        .get(&doc_id)
        .is_some_and(|doc| doc.title.starts_with(choir_proto::mail::DRAFT_TITLE));
    let send_mail = send.reform(move |_: MouseEvent| Msg::Send(Command::SendMail { doc_id }));
    // Every input is an edit, an input method's text while it composes too (it converges to
    // the composed text).
    let oninput = send.reform(move |_: InputEvent| Msg::WriterInput(id));
    html! {
        <div class="writer" data-doc-id={ doc_id.0.to_string() }>
            <div class="writer-bar">
                <button data-action="doc-list" onclick={ back } aria-label="back to the document list">{ "◂ documents" }</button>
                <span class="muted">{ format!(" v{} · {saved}", editor.doc.version()) }</span>
                if draft {
                    <button data-action="send-mail" title="send this message (Ctrl-a M)" onclick={ send_mail }>{ "Send" }</button>
                }
            </div>
            <textarea class="writer-text" ref={ editor.area.clone() } aria-label="document text" spellcheck="false" oninput={ oninput } />
        </div>
    }
}
