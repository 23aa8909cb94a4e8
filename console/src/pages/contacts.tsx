// Contacts: the search (/console/contacts) and one contact's page (/console/contacts/:id) with its
// timeline, consent proof, subscriptions, suppression state, export and erasure. Both only call the API.
import { useRoute } from 'preact-iso';
import { ContactDetail } from './contacts/detail';
import { ContactSearch } from './contacts/search';
import './contacts.css';

export default function ContactsPage() {
  const { params } = useRoute();
  return params.id ? <ContactDetail key={params.id} id={params.id} /> : <ContactSearch />;
}
