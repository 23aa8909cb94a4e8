// Campaigns: the list (/console/campaigns), a new draft (/console/campaigns/new) and one campaign
// (/console/campaigns/:id). Every figure and decision comes from the API (/api/campaigns...).
import { useRoute } from 'preact-iso';
import { CampaignDetail, NewCampaign } from './campaigns/detail';
import { CampaignList } from './campaigns/list';
import './campaigns.css';

export default function CampaignsPage() {
  const { params } = useRoute();
  if (!params.id) return <CampaignList />;
  if (params.id === 'new') return <NewCampaign />;
  return <CampaignDetail key={params.id} id={params.id} />;
}
